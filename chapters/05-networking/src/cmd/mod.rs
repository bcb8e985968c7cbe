//! One file per subcommand.
pub mod explain;
pub mod proxy;
pub mod tour;
