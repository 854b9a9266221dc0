//! Writes the spec of the 1,000-document benchmark corpus as JSON (`spec.json`) and YAML
//! (`spec.yaml`), and every diagnostic rendered (`render.txt`), into a folder:
//! `dump_corpus_spec DIR`. Run it at two revisions and `cmp` the files to show that a
//! change leaves the output alone (`tests/corpus_output.rs` pins digests of the first two).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: dump_corpus_spec DIR")?,
    );
    let docs = flowgen_spec::corpus::generate(1_000, 1);
    let sources =
        flowgen_spec::Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    let spec = flowgen_spec::build_spec(&sources);
    std::fs::write(out.join("spec.json"), serde_json::to_string_pretty(&spec)?)?;
    std::fs::write(out.join("spec.yaml"), serde_yaml::to_string(&spec)?)?;
    let mut rendered = String::new();
    for d in &spec.diagnostics {
        rendered.push_str(&flowgen_spec::render::render(d, &sources, false));
        rendered.push('\n');
    }
    std::fs::write(out.join("render.txt"), rendered)?;
    Ok(())
}
