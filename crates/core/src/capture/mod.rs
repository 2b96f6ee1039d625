//! Data Capture: the record format and the S3 key layout (how listed objects group into streams
//! and hour folders; the listing itself is I/O and lives with the drivers' stores).

pub mod batch;
#[doc(hidden)]
pub mod fuzz;
pub mod layout;
mod raw;
mod record;
mod scan;

pub use self::raw::CapturedPayload;
pub use self::record::{decode_line, CaptureRecord, RecordError};
