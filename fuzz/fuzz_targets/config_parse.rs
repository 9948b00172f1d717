//! The config loader (`Config::parse`, what `--config FILE` runs): any text is
//! accepted or refused without panicking; a refusal names the file, and an accepted
//! config holds the bounds validation promises.
#![no_main]

use std::path::Path;

use kvwatch::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, Path::new("fuzz.toml")) {
        Ok(config) => {
            assert!(config.pipeline.reorder_capacity >= 1);
            assert!(config.pipeline.max_record_bytes >= 1024);
            assert!(config.metrics.validate().is_ok());
            assert!(config.detectors.max_principals >= 100);
            let limits = config.limits();
            assert_eq!(limits.max_record_bytes, config.pipeline.max_record_bytes);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("fuzz.toml"),
                "an error that does not name the file: {message}"
            );
        }
    }
});
