//! API tests: one binary (fast to link), driving the real application over
//! HTTP against the real Postgres and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alipay;
mod apply;
mod auth;
mod bad_input;
mod bookings;
mod calls_e2e;
mod cluster;
mod dashboard;
mod dashboard_support;
mod demo;
mod experts;
mod faults;
mod help_now;
mod helpers;
mod holds;
mod matrix;
mod openapi;
mod organisations;
mod payments;
mod portal;
mod privacy;
mod property;
mod recovery;
mod referrals;
mod regions;
mod seeker_app;
mod service;
mod settings;
mod sign_in;
mod slate;
mod supervision;
mod trust;
mod waitlist;
mod webhooks;
