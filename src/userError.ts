export { UserError } from './flow/errors.js';
