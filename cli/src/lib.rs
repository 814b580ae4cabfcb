//! `seatctl`'s parts that tests drive in-process: reading the deployed
//! stack, and the doctor.

pub mod doctor;
pub mod stack;
