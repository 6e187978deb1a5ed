//! Call tests.
