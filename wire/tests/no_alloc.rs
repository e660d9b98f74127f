//! Proves that parsing a query and writing a three-record answer with OPT
//! allocate nothing. It installs a counting global allocator, which is why
//! it is a test binary of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use xcc_wire::{Class, Flags, Message, MessageWriter, NameBuf, OptRecord, RData, RType, Section};

/// Counts allocations made by the current thread (the test harness runs
/// other threads; only ours matters).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counter has a const initialiser, so touching it never
// allocates (no recursion into the allocator).
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

/// dig's query for the walkthrough name, with EDNS and a cookie
/// (`vectors/dig-mixedcase.query.bin`).
const QUERY: &[u8] = include_bytes!("vectors/dig-mixedcase.query.bin");

#[test]
fn parse_query_and_write_three_record_answer_with_opt_allocate_nothing() {
    // Everything that may allocate is prepared before counting starts.
    let addresses = [
        RData::A([10, 0, 0, 10].into()),
        RData::A([10, 0, 0, 11].into()),
        RData::A([10, 0, 0, 12].into()),
    ];
    let zone = NameBuf::from_presentation("xcc.test.").unwrap();
    let mut out = [0u8; 1232];

    let before = allocations();
    let query = Message::parse(QUERY).unwrap();
    let question = query.question().unwrap();
    let edns = query.edns().unwrap();
    let mut writer =
        MessageWriter::new(&mut out, usize::from(edns.effective_payload_size())).unwrap();
    writer.set_id(query.header().id);
    writer.set_flags(
        Flags(0)
            .with_qr(true)
            .with_aa(true)
            .with_rd(query.header().flags.rd()),
    );
    writer.push_question(&question).unwrap();
    writer
        .reserve_opt(&OptRecord {
            udp_payload_size: 1232,
            version: 0,
            flags: 0,
            options: &[],
        })
        .unwrap();
    writer
        .push_rrset(
            Section::Answer,
            &question.qname,
            RType::A,
            Class::IN,
            30,
            addresses,
        )
        .unwrap();
    // A name that only shares a suffix, to exercise the compressor table.
    writer
        .push_record_wire(
            Section::Additional,
            &zone.as_name(),
            RType(65280),
            Class::IN,
            30,
            b"x",
        )
        .unwrap();
    let len = writer.finish();
    let after = allocations();

    assert_eq!(after - before, 0, "allocations on the query path");
    let answer = Message::parse(&out[..len]).unwrap();
    assert_eq!(answer.answers().count(), 3);
    assert!(answer.edns().is_some());
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let boxed = std::hint::black_box(Box::new(42u64));
    assert!(
        allocations() > before,
        "the counting allocator is not installed"
    );
    drop(boxed);
}
