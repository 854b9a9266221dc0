//! Any bytes: the reader must not panic, every place it reports must lie in the file, and
//! rendering its diagnostics must not panic.
#![no_main]
#![forbid(unsafe_code)]

use flowgen_spec::Sources;
use flowgen_spec::read::read_document;
use flowgen_spec::render::render;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let (_, diagnostics) = read_document("fuzz.rst", bytes);
    // Lines as the reader counts them: LF, CRLF and lone CR each end one.
    let mut lines = 1usize;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' || bytes[i] == b'\r' {
            lines += 1;
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        }
        i += 1;
    }
    let sources = Sources::from_memory([("fuzz.rst", bytes)]);
    for d in &diagnostics {
        let line = d.line.unwrap_or(1) as usize;
        assert!(
            line >= 1 && line <= lines + 1,
            "{d}: line past the end ({lines} lines)"
        );
        let _ = render(d, &sources, false);
    }
});
