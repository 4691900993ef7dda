/**
 * An error the user can act on (a bad option, an unreadable input, an unresolvable collector):
 * the CLI reports it as one line, without a stack trace, and exits with 2.
 */
export class UserError extends Error {}
