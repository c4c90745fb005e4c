//! The conformance suite on the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pacbot_store::MemoryStore;

pacbot_store::conformance_tests!(async { MemoryStore::new() });

#[tokio::test]
async fn the_store_is_usable_as_a_trait_object() {
    let store: std::sync::Arc<dyn pacbot_store::Store> = std::sync::Arc::new(MemoryStore::new());
    let page = store.scans(&pacbot_store::PageRequest::default()).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}
