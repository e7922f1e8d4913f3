//! Tests for booking: plain examples that document behaviour, property
//! tests against a brute-force oracle that looks at every instant, and a
//! large-scale run against a simple sweep.

mod examples;
mod fit_props;
mod oracle;
mod scale;
mod timeline_props;
