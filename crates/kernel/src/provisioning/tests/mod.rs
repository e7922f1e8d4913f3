//! Tests for provisioning: examples that document behaviour, a replay of
//! every plan through the provider model, property tests against an
//! exhaustive search on small instances and against invariants on larger
//! ones, and a timing check at the size the service expects.

mod checks;
mod examples;
mod invariant_props;
mod optimal_props;
mod oracle;
mod speed;
