//! Placeholder: the java binding is being written.
