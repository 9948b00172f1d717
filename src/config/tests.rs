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
fn whole_input_caps_are_deprecated_and_the_ratio_bounded() {
    let c = parse("").unwrap();
    assert!(c.deprecated_keys().is_empty());
    assert_eq!(c.limits().max_expansion_ratio, 200);
    let c = parse("[pipeline]\nmax_input_bytes = 4096\nmax_decompressed_bytes = 8192\n").unwrap();
    assert_eq!(
        c.deprecated_keys(),
        [
            "pipeline.max_input_bytes",
            "pipeline.max_decompressed_bytes"
        ]
    );
    let err = parse("[pipeline]\nmax_expansion_ratio = 2\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pipeline.max_expansion_ratio"), "{err}");
}

#[test]
fn values_parse() {
    let c = parse("[pipeline]\nlateness = \"10m\"\n[geoip]\ndatabase = \"geo.mmdb\"\nazure_ranges = [\"20.0.0.0/8\"]\n").unwrap();
    assert_eq!(c.pipeline.lateness.as_std().as_secs(), 600);
    assert_eq!(c.geoip.azure_ranges.len(), 1);
}
