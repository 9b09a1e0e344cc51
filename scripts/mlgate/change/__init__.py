"""The write side: a request becomes files, a commit on a branch, a push and a pull request (register,
promote, rollback, deprecate), and ``mlgate init``'s scaffolding."""
