//! Proves that answering allocates nothing: hits, wildcards, NXDOMAIN,
//! NODATA, CNAME chains, CNAMEs carrying their target's addresses,
//! truncated answers and FORMERR; and prefetching a batch of queries. It
//! installs a
//! counting global allocator, which is why it is a test binary of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use xcc_responder::records::model::DnsRecordSpec;
use xcc_responder::respond::{BatchPrefetch, Context, Outcome, Transport, respond};
use xcc_responder::table::{Source, TableBuilder, TableConfig};
use xcc_wire::{Class, Flags, MessageWriter, NameBuf, OptRecord, Question, RType};

/// Counts allocations made by the current thread.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counter has a const initialiser, so touching it never
// allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn query(qname: &str, qtype: RType, edns: bool) -> Vec<u8> {
    let qname = NameBuf::from_presentation(qname).unwrap();
    let mut buf = vec![0u8; 512];
    let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
    writer.set_id(7);
    writer.set_flags(Flags(0).with_rd(true));
    writer
        .push_question(&Question {
            qname: qname.as_name(),
            qtype,
            qclass: Class::IN,
        })
        .unwrap();
    if edns {
        writer
            .reserve_opt(&OptRecord {
                udp_payload_size: 1232,
                version: 0,
                flags: 0,
                options: &[],
            })
            .unwrap();
    }
    let len = writer.finish();
    buf.truncate(len);
    buf
}

#[test]
fn answering_allocates_nothing() {
    let spec = |name: &str, addresses: Vec<String>, cname: Option<&str>| DnsRecordSpec {
        name: name.into(),
        ttl: 30,
        addresses,
        cname: cname.map(Into::into),
        ..DnsRecordSpec::default()
    };
    let big: Vec<String> = (1..=60).map(|i| format!("10.1.0.{i}")).collect();
    let mut builder = TableBuilder::new(TableConfig::default());
    for s in [
        spec(
            "*.gateway.cluster-a.dev-team.clusters.xcc.test",
            vec!["10.0.0.1".into(), "10.0.0.2".into()],
            None,
        ),
        spec("www.xcc.test", vec!["192.0.2.1".into()], None),
        spec("alias.xcc.test", vec![], Some("www.xcc.test")),
        spec("big.xcc.test", big, None),
        DnsRecordSpec {
            target_addresses: vec!["192.0.2.10".into(), "2001:db8::10".into()],
            ..spec(
                "*.gateway.cluster-b.dev-team.clusters.xcc.test",
                vec![],
                Some("lb-123.elb.example.com."),
            )
        },
        DnsRecordSpec {
            target_addresses: (1..=60).map(|i| format!("10.2.0.{i}")).collect(),
            ..spec("many.xcc.test", vec![], Some("many.lb.example.com"))
        },
    ] {
        builder.add_spec(&s, Source::default()).unwrap();
    }
    let table = builder.build().table;
    let mut malformed = query("www.xcc.test", RType::A, true);
    malformed.push(0);
    let queries = [
        query("www.xcc.test", RType::A, true),
        query(
            "KuArD.gateway.cluster-a.dev-team.clusters.xcc.test",
            RType::A,
            true,
        ),
        query("nope.xcc.test", RType::A, true),
        query("www.xcc.test", RType::AAAA, false),
        query("alias.xcc.test", RType::A, true),
        query("big.xcc.test", RType::A, false),
        query(
            "KuArD.gateway.cluster-b.dev-team.clusters.xcc.test",
            RType::A,
            true,
        ),
        query(
            "x.gateway.cluster-b.dev-team.clusters.xcc.test",
            RType::AAAA,
            false,
        ),
        query("many.xcc.test", RType::A, false),
        query("example.com", RType::A, true),
        malformed,
    ];
    let mut out = vec![0u8; 65535];
    let mut context = Context::default();

    let before = allocations();
    let mut answered = 0;
    for query in &queries {
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Outcome::Answered { .. } =
                respond(query, &table, transport, &mut context, &mut out)
            {
                answered += 1;
            }
        }
    }
    let after = allocations();

    assert_eq!(answered, queries.len() * 2);
    assert_eq!(after - before, 0, "allocations while answering");
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let boxed = std::hint::black_box(Box::new(1u64));
    assert!(allocations() > before);
    drop(boxed);
}

#[test]
fn prefetching_a_batch_allocates_nothing_and_changes_no_answer() {
    // Big enough for the index to outgrow a core's caches, where the
    // worker prefetches every batch (20,000 gateway wildcards: 60,000 names).
    let mut builder = TableBuilder::new(TableConfig::default());
    for i in 0..20_000 {
        let spec = DnsRecordSpec {
            name: format!("*.gateway.cluster-{i}.team-{}.clusters.xcc.test", i % 50),
            ttl: 30,
            addresses: vec![format!("10.{}.{}.1", i / 250, i % 250)],
            ..DnsRecordSpec::default()
        };
        builder.add_spec(&spec, Source::default()).unwrap();
    }
    let table = builder.build().table;
    assert!(table.worth_prefetching());
    let mut malformed = query("www.xcc.test", RType::A, true);
    malformed.truncate(20);
    let queries = [
        query(
            "a.gateway.cluster-7.team-7.clusters.xcc.test",
            RType::A,
            false,
        ),
        query(
            "B.gateway.cluster-19999.team-49.clusters.xcc.test",
            RType::AAAA,
            true,
        ),
        query(
            "gateway.cluster-7.team-7.clusters.xcc.test",
            RType::A,
            false,
        ),
        query("nope.cluster-7.team-7.clusters.xcc.test", RType::A, false),
        query("xcc.test", RType::SOA, false),
        query("example.com", RType::A, false),
        malformed,
    ];
    let mut plain = Vec::new();
    let mut context = Context::default();
    let mut out = vec![0u8; 512];
    for query in &queries {
        let outcome = respond(query, &table, Transport::Udp, &mut context, &mut out);
        let Outcome::Answered { len, .. } = outcome else {
            panic!("every query is answered: {outcome:?}")
        };
        plain.push(out[..len].to_vec());
    }

    let mut prefetch = BatchPrefetch::default();
    let mut context = Context::default();
    let before = allocations();
    prefetch.run(&table, queries.iter().map(|query| &query[..]));
    for (index, (query, expected)) in queries.iter().zip(&plain).enumerate() {
        let outcome =
            prefetch.respond(index, query, &table, Transport::Udp, &mut context, &mut out);
        let Outcome::Answered { len, .. } = outcome else {
            panic!("every query is answered: {outcome:?}")
        };
        assert_eq!(&out[..len], &expected[..]);
    }
    assert_eq!(allocations() - before, 0, "allocations while prefetching");
}
