//! cogs-core: everything the entry points share. Layers, lowest first: `model` and
//! `money` (values), `engine` (pure FIFO allocator), `ingest` (CSV readers),
//! `journal` (pure renderers), `service` (the use cases). See DESIGN.md.

pub mod db;
pub mod engine;
pub mod ingest;
pub mod journal;
pub mod model;
pub mod money;
pub mod service;
