//! The inventory: the assets of one scan, indexed for lookups.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::asset::{Asset, AssetId, ResourceKind};

/// The assets of one scan, indexed by id and by kind.
///
/// Each asset has a position (its index) that stays fixed while the inventory
/// lives; an [`crate::Evaluation`] refers to assets by position. Adding an
/// asset whose id is already present replaces the earlier one in place.
#[derive(Clone, Default)]
pub struct Inventory {
    assets: Vec<Asset>,
    by_id: HashTable<u32>,
    hasher: DefaultHashBuilder,
    by_kind: HashMap<ResourceKind, Vec<u32>>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory").field("assets", &self.assets.len()).field("kinds", &self.by_kind.len()).finish()
    }
}

impl Inventory {
    /// An empty inventory.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An inventory of these assets (a later duplicate id replaces an earlier one).
    pub fn from_assets(assets: impl IntoIterator<Item = Asset>) -> Self {
        let mut inv = Self::new();
        for a in assets {
            inv.insert(a);
        }
        inv
    }

    /// Adds an asset, replacing one with the same id. Returns its position.
    ///
    /// An inventory indexes up to `u32::MAX` assets; further ones are kept
    /// (and evaluated by rules of every kind) but cannot be looked up by id.
    pub fn insert(&mut self, asset: Asset) -> usize {
        let hash = self.hash_id(&asset.id);
        let assets = &self.assets;
        if let Some(&pos) = self.by_id.find(hash, |&i| assets[i as usize].id == asset.id) {
            self.assets[pos as usize] = asset;
            return pos as usize;
        }
        let Ok(pos) = u32::try_from(self.assets.len()) else {
            // Beyond 4 billion assets: keep the asset reachable by iteration only.
            self.assets.push(asset);
            return self.assets.len() - 1;
        };
        self.by_kind.entry(asset.id.kind.clone()).or_default().push(pos);
        self.assets.push(asset);
        let assets = &self.assets;
        let hasher = &self.hasher;
        self.by_id.insert_unique(hash, pos, |&i| {
            let id = &assets[i as usize].id;
            hash_parts(hasher, &id.provider, &id.account, &id.region, id.kind.as_str(), &id.resource_id)
        });
        pos as usize
    }

    /// The number of assets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether there are no assets.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// All assets, in insertion order.
    #[must_use]
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    fn hash_id(&self, id: &AssetId) -> u64 {
        hash_parts(&self.hasher, &id.provider, &id.account, &id.region, id.kind.as_str(), &id.resource_id)
    }

    /// The position of an asset.
    #[must_use]
    pub fn position(&self, id: &AssetId) -> Option<usize> {
        self.position_of(&id.provider, &id.account, &id.region, id.kind.as_str(), &id.resource_id)
    }

    /// The position of an asset given by the parts of its id (no allocation).
    #[must_use]
    pub fn position_of(
        &self,
        provider: &str,
        account: &str,
        region: &str,
        kind: &str,
        resource_id: &str,
    ) -> Option<usize> {
        let hash = hash_parts(&self.hasher, provider, account, region, kind, resource_id);
        self.by_id
            .find(hash, |&i| {
                let id = &self.assets[i as usize].id;
                id.resource_id == resource_id
                    && id.kind.as_str() == kind
                    && id.region == region
                    && id.account == account
                    && id.provider == provider
            })
            .map(|&i| i as usize)
    }

    /// An asset by id.
    #[must_use]
    pub fn get(&self, id: &AssetId) -> Option<&Asset> {
        self.position(id).map(|i| &self.assets[i])
    }

    /// An asset by position.
    #[must_use]
    pub fn at(&self, position: usize) -> Option<&Asset> {
        self.assets.get(position)
    }

    /// The positions of the assets of one kind, in insertion order.
    #[must_use]
    pub fn positions_of_kind(&self, kind: &ResourceKind) -> &[u32] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// The assets of one kind.
    pub fn of_kind<'a>(&'a self, kind: &ResourceKind) -> impl Iterator<Item = &'a Asset> + use<'a> {
        self.positions_of_kind(kind).iter().map(|&i| &self.assets[i as usize])
    }

    /// The kinds present, with their asset counts, sorted by kind.
    #[must_use]
    pub fn kinds(&self) -> Vec<(ResourceKind, usize)> {
        let mut out: Vec<_> = self.by_kind.iter().map(|(k, v)| (k.clone(), v.len())).collect();
        out.sort();
        out
    }

    /// Finds a related asset: one of `kind` with `resource_id` in the same
    /// provider and account as `of`, in its region or in `global`.
    #[must_use]
    pub fn related(&self, of: &AssetId, kind: &str, resource_id: &str) -> Option<&Asset> {
        self.position_of(&of.provider, &of.account, &of.region, kind, resource_id)
            .or_else(|| self.position_of(&of.provider, &of.account, "global", kind, resource_id))
            .map(|i| &self.assets[i])
    }
}

fn hash_parts(hasher: &DefaultHashBuilder, provider: &str, account: &str, region: &str, kind: &str, id: &str) -> u64 {
    let mut h = hasher.build_hasher();
    for part in [provider, account, region, kind, id] {
        part.hash(&mut h);
    }
    h.finish()
}

impl FromIterator<Asset> for Inventory {
    fn from_iter<I: IntoIterator<Item = Asset>>(iter: I) -> Self {
        Self::from_assets(iter)
    }
}

impl Extend<Asset> for Inventory {
    fn extend<I: IntoIterator<Item = Asset>>(&mut self, iter: I) {
        for a in iter {
            self.insert(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(kind: &str, id: &str) -> Asset {
        Asset::new(AssetId::new("aws", "1", "r", kind, id))
    }

    #[test]
    fn indexes_by_id_and_kind_and_replaces_duplicates() {
        let mut inv = Inventory::from_assets([a("k1", "x"), a("k2", "y"), a("k1", "z")]);
        assert_eq!(inv.len(), 3);
        assert_eq!(inv.of_kind(&"k1".into()).count(), 2);
        let pos = inv.insert(a("k2", "y").with_tag("t", "v"));
        assert_eq!(pos, 1);
        assert_eq!(inv.len(), 3);
        assert_eq!(inv.at(1).and_then(|x| x.tag("t")), Some("v"));
        assert!(inv.get(&AssetId::new("aws", "1", "r", "k1", "nope")).is_none());
        let g = Asset::new(AssetId::new("aws", "1", "global", "role", "admin"));
        inv.insert(g);
        let of = AssetId::new("aws", "1", "r", "k1", "x");
        assert!(inv.related(&of, "role", "admin").is_some());
        assert!(inv.related(&of, "k2", "y").is_some());
        assert!(inv.related(&of, "k2", "q").is_none());
        assert_eq!(inv.kinds().len(), 3);
    }
}
