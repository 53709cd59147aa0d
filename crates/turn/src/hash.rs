//! The hasher of the per-packet lookups is edge-guard's [`KeyedState`], media-edge's one
//! keyed hasher for maps whose keys come from the network (see its documentation).

pub(crate) use edge_guard::KeyedState;
