//! Shared helpers for loopwork's integration, asyncio parity and stress tests.
