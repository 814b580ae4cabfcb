//! `seatctl`'s parts that tests drive in-process: reading the deployed
//! stack, the doctor, and the load-test kit.

pub mod doctor;
pub mod load_test;
pub mod stack;
