package proxy

import "syscall"

// errTooManyFiles is the accept error that means the process ran out of descriptors.
const errTooManyFiles = syscall.EMFILE
