//! Sources: where the bytes come from. [`files`] walks paths for replay (including
//! the Azure Storage archive layout) and reads them, decompressing gzip; [`eventhubs`]
//! reads Event Hubs partitions for `kvwatch run` and `kvwatch route`.

pub mod eventhubs;
pub mod files;
