//! Sources: where the bytes come from. [`files`] walks paths for replay (including
//! the Azure Storage archive layout) and reads them, decompressing gzip; the Event
//! Hubs consumer for `kvwatch run` lives in its own module.

pub mod files;
