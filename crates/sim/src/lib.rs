//! Scenario generator for the demo, tests and load runs. Pure: it builds the world and the
//! ordered events of a scenario from a seed and a start time; the shell feeds them to the
//! platform through its real paths.
//!
//! The first scenario is the source article's consignment: 108 cars made in Chongqing, tallied
//! at Guoyuan, carried down the Yangtze under customs transit, transshipped at Shanghai's
//! Haitong terminal and exported to Mexico, with one customs hold and one refused out-of-order
//! loading on the way. Its river voyage also sails as AIS ([`ais::river_voyage`]): NMEA
//! sentences the platform reads like any feed.
//! [`sensors`] adds the voyage's deck, battery and door sensors with three
//! anomalies for the watch engine.

pub mod ais;
mod consignment;
mod fleet;
pub mod sensors;
mod world;

pub use consignment::{Car, Scenario, ScenarioStep, consignment_108};
pub use fleet::{CarModel, MODELS};
pub use world::{World, corridor_world, ids};
