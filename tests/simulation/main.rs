//! A randomized sale under faults (step 2 fills this in); for now the proxy
//! faults the simulation injects, each tried against a real Redis.

#[path = "../support/mod.rs"]
mod support;

mod proxy_faults;
