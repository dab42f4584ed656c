/** An error the user can cause and fix: printed as one line with a hint, exit code 2, no stack trace. */
export class UserError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'UserError';
  }
}
