//! End-to-end tests of the sandbox over HTTP: one binary, one module per API.

mod chargebee;
mod common;
mod determinism;
mod faults;
mod poweroffice;
mod rest;
mod webcrm;
