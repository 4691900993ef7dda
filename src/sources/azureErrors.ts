/**
 * Moved to state/azureErrors.ts: the state stores translate Azure Storage errors too, and state/
 * must not import sources/ (the stage import rule). Kept so importers outside the blob source
 * (eventhub) need no change; new code imports from state/.
 */
export * from '../state/azureErrors.js';
