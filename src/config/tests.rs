//! Loading and validating config text: defaults, errors naming the file and key,
//! value bounds.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

#[test]
fn empty_config_is_valid() {
    let c = parse("").unwrap();
    assert_eq!(c.pipeline.lateness.as_std().as_secs(), 900);
}

#[test]
fn errors_name_the_file_and_key() {
    let table = [
        ("[pipeline]\nlatenes = \"5m\"\n", "unknown field `latenes`"),
        ("[pipline]\n", "unknown field `pipline`"),
        ("[pipeline]\nlateness = \"soon\"\n", "invalid duration"),
        (
            "[pipeline]\nreorder_capacity = 0\n",
            "pipeline.reorder_capacity",
        ),
        ("[pipeline]\nlateness = \"3d\"\n", "pipeline.lateness"),
    ];
    for (text, want) in table {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("test.toml"), "{err}");
        assert!(err.contains(want), "{text:?} → {err}");
    }
}

#[test]
fn input_cap_defaults_and_bounds() {
    let c = parse("").unwrap();
    assert_eq!(
        c.pipeline.max_input_bytes,
        crate::source::files::DEFAULT_MAX_INPUT_BYTES
    );
    let c = parse("[pipeline]\nmax_input_bytes = 4096\n").unwrap();
    assert_eq!(c.pipeline.max_input_bytes, 4096);
    let err = parse("[pipeline]\nmax_input_bytes = 10\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pipeline.max_input_bytes"), "{err}");
}

#[test]
fn values_parse() {
    let c = parse("[pipeline]\nlateness = \"10m\"\n[geoip]\ndatabase = \"geo.mmdb\"\nazure_ranges = [\"20.0.0.0/8\"]\n").unwrap();
    assert_eq!(c.pipeline.lateness.as_std().as_secs(), 600);
    assert_eq!(c.geoip.azure_ranges.len(), 1);
}
