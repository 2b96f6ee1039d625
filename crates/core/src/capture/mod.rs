//! Data Capture: the record format, the S3 key layout, and where capture files come from.

#[doc(hidden)]
pub mod fuzz;
pub mod layout;
pub mod local;
mod raw;
mod record;
mod scan;

pub use self::raw::CapturedPayload;
pub use self::record::{decode_line, CaptureRecord, RecordError};
