//! The types the [`crate::Store`] API takes and returns.

mod query;
mod records;
mod scan;

pub use query::{
    AssetFilter, AssetQuery, AssetSort, CriteriaFilter, Cursor, MatchedField, Order, Page, PageRequest, SearchHit,
    TagFilter, ViolationFilter, ViolationQuery, ViolationSort,
};
pub use records::{
    Asset360, AssetGroupRecord, AssetRecord, ExceptionRecord, FixFilter, FixKind, FixRecord, PolicyRecord, Stamp,
    TrendQuery,
};
pub use scan::{
    ComplianceSnapshot, FailedScope, HistoryEntry, RuleResult, ScanCommit, ScanCounts, ScanId, ScanRecord, ScanStart,
    ScanStatus,
};
