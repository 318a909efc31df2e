package pool

// TargetChunkBytes is what automatic chunks aim at, for the tests.
const TargetChunkBytes = targetChunkBytes
