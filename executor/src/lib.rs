//! loopwork: Python asyncio's programming model on a work-stealing executor.
