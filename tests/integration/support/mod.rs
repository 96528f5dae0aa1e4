//! The test harness: the emulator and its seeding ([`emulator`]), scenes ([`scene`]), the one
//! HTTP stub for scripted endpoints and faults ([`stub`], [`ecs`], [`codedeploy`], [`faults`], [`iam`]), and
//! snapshots of what people read ([`snapshot`]).

pub mod codedeploy;
pub mod ecs;
pub mod emulator;
pub mod faults;
pub mod iam;
pub mod scene;
pub mod snapshot;
pub mod stub;

pub use emulator::*;
pub use scene::{Scene, fixture};
