//! libhakmem.so
