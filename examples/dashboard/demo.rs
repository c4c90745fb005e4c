//! `--demo`: the scanner example's demo scan, run here through the scanner's
//! own modules (its configuration, estates, packs and `scan_once`), so both
//! examples show the same estate and nothing of it is copied.

use pacbot::store::Store;

use super::scanner::cli::DemoVariant;
use super::scanner::config::Loaded;
use super::scanner::scan::{Running, scan_once};

/// The demo scan the server can re-run (`POST /api/admin/scan`).
#[derive(Debug)]
pub struct DemoScan {
    /// Where the store is, for the scanner's messages.
    pub database: String,
    /// Serializes re-runs: one scan at a time (scoped scans take it too).
    pub(crate) lock: tokio::sync::Mutex<()>,
}

/// What a demo scan did, for the API.
#[derive(Debug, serde::Serialize)]
pub struct ScanSummary {
    /// The scan id.
    pub scan: u64,
    /// Its status.
    pub status: String,
    /// Assets seen.
    pub assets: u64,
    /// Overall compliance after it.
    pub overall: f64,
}

impl DemoScan {
    /// A demo scan into the store at `database`.
    pub fn new(database: impl Into<String>) -> Self {
        Self { database: database.into(), lock: tokio::sync::Mutex::new(()) }
    }

    /// Seeds an empty store: the demo estate, then the same estate a week
    /// later (a third fixed), so the trend has two points. A store that
    /// already has scans is left alone.
    pub async fn seed(&self, store: &dyn Store) -> Result<(), String> {
        let scans = store.scans(&pacbot::store::PageRequest::first(1)).await.map_err(|e| e.to_string())?;
        if !scans.items.is_empty() {
            return Ok(());
        }
        self.scan_variant(store, DemoVariant::Estate).await?;
        self.scan_variant(store, DemoVariant::Fixed).await?;
        Ok(())
    }

    /// Re-runs the demo scan of the latest estate, with the policies the
    /// catalogue has disabled left out (and those it has enabled put back), so the
    /// dashboard's switches take effect.
    pub async fn rescan(&self, store: &dyn Store) -> Result<ScanSummary, String> {
        self.scan(store, DemoVariant::Fixed).await
    }

    /// Runs the demo scan of one variant of the estate (tests seed a store
    /// with the first variant alone, then scan the second scope by scope).
    pub async fn scan_variant(&self, store: &dyn Store, variant: DemoVariant) -> Result<ScanSummary, String> {
        self.scan(store, variant).await
    }

    /// The demo configuration of a variant of the estate, with the policies
    /// the catalogue has disabled left out (and those it has enabled put back).
    pub async fn configuration(store: &dyn Store, variant: DemoVariant) -> Result<Loaded, String> {
        let mut loaded = Loaded::demo(variant)
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        let catalogue = store.policies().await.map_err(|e| e.to_string())?;
        let disabled = &mut loaded.config.policies.disabled;
        for p in &catalogue {
            let listed = disabled.contains(&p.meta.id);
            if !p.meta.enabled && !listed {
                disabled.push(p.meta.id.clone());
            } else if p.meta.enabled && listed {
                disabled.retain(|id| *id != p.meta.id);
            }
        }
        Ok(loaded)
    }

    async fn scan(&self, store: &dyn Store, variant: DemoVariant) -> Result<ScanSummary, String> {
        let _one_at_a_time = self.lock.lock().await;
        let loaded = Self::configuration(store, variant).await?;
        let running = Running::default();
        let outcome = scan_once(store, &self.database, &loaded, false, &running).await.map_err(|e| e.to_string())?;
        Ok(ScanSummary {
            scan: outcome.scan.id.get(),
            status: outcome.scan.status.to_string(),
            assets: outcome.scan.counts.assets_seen,
            overall: outcome.compliance.overall,
        })
    }
}
