//! The test harness: the emulator and its seeding ([`emulator`]), scenes ([`scene`]), the one
//! HTTP stub for scripted endpoints and faults ([`stub`], [`ecs`], [`codedeploy`], [`faults`], [`iam`]), and
//! snapshots of what people read ([`snapshot`]).

pub mod codedeploy;
pub mod ecs;
pub mod emulator;
pub mod faults;
pub mod iam;
pub mod pipeline;
pub mod scene;
pub mod snapshot;
pub mod stub;

pub use emulator::*;
pub use scene::{Scene, fixture};

/// Each call's start and end in a `-v` trace ("call SERVICE.OPERATION starts at +N ms" and
/// "… ends at +N ms (…)"): (operation, start ms, end ms), in start order.
pub fn trace(stderr: &str) -> Vec<(String, u64, u64)> {
    let mut calls: Vec<(String, u64, u64)> = Vec::new();
    for line in stderr.lines() {
        let Some(at) = line.find("call ") else {
            continue;
        };
        let rest = &line[at + 5..];
        let (name, what, tail) = if let Some((name, tail)) = rest.split_once(" starts at +") {
            (name, "starts", tail)
        } else if let Some((name, tail)) = rest.split_once(" ends at +") {
            (name, "ends", tail)
        } else {
            continue;
        };
        let operation = name.rsplit('.').next().unwrap().to_owned();
        let ms: u64 = tail.split(' ').next().unwrap().parse().unwrap();
        if what == "starts" {
            calls.push((operation, ms, u64::MAX));
        } else {
            let open = calls
                .iter_mut()
                .find(|c| c.0 == operation && c.2 == u64::MAX)
                .expect("an end follows its start");
            open.2 = ms;
        }
    }
    calls
}
