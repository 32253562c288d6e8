//! JNI exports (placeholder).
