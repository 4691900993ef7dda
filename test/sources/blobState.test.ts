import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FileStateStore, JOURNAL_FILE_NAME, readStateDirectory, STATE_FILE_NAME } from '../../src/state/fileStateStore.js';
import { emptyState, StateError, type SourceState, type StateChanges, type StateStore } from '../../src/state/sourceState.js';
import { StateWriter } from '../../src/state/stateWriter.js';

const dir = mkdtempSync(join(tmpdir(), 'nsg2ipfix-state-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let case_ = 0;
const freshDir = () => join(dir, `case-${++case_}`);

const HOUR = Date.UTC(2026, 0, 1, 10);

function stateWith(blobs: number): SourceState {
  const state = emptyState(HOUR);
  for (let i = 0; i < blobs; i++) state.blobs[`c/blob-${i}/PT1H.json`] = { hourMs: HOUR, lastBlockId: 'QUFB', lastBlockIndex: 1, endOffset: 100 + i };
  return state;
}

const changed = (...keys: string[]): StateChanges => ({ blobs: new Set(keys), header: false });

describe('FileStateStore: snapshot and journal', () => {
  it('appends only the changed cursors, whatever the number of blobs, and recovers snapshot + journal', async () => {
    const where = freshDir();
    const store = new FileStateStore(where);
    const state = stateWith(5000);
    await store.save(state);
    const snapshotBytes = statSync(join(where, STATE_FILE_NAME)).size;
    const journalBefore = statSync(join(where, JOURNAL_FILE_NAME)).size;

    state.blobs['c/blob-7/PT1H.json']!.endOffset = 9999;
    state.blobs['c/blob-8/PT1H.json'] = { hourMs: HOUR, grownToOffset: 4242, lastBlockId: 'QkJC', endOffset: 4000 };
    delete state.blobs['c/blob-9/PT1H.json'];
    state.scanFromMs = HOUR + 3_600_000;
    await store.save(state, { blobs: new Set(['c/blob-7/PT1H.json', 'c/blob-8/PT1H.json', 'c/blob-9/PT1H.json']), header: true });

    // Three cursor lines and a header line: a few hundred bytes, not another snapshot.
    expect(statSync(join(where, STATE_FILE_NAME)).size).toBe(snapshotBytes);
    expect(statSync(join(where, JOURNAL_FILE_NAME)).size - journalBefore).toBeLessThan(600);

    const recovered = await new FileStateStore(where).load();
    expect(recovered).toEqual({ ...state, updatedAt: expect.any(String) as unknown });
    expect(readStateDirectory(where)?.blobs['c/blob-8/PT1H.json']?.grownToOffset).toBe(4242);
    await store.close();
  });

  it('ignores a torn last line (a crash in the middle of an append)', async () => {
    const where = freshDir();
    const store = new FileStateStore(where);
    const state = stateWith(3);
    await store.save(state);
    state.blobs['c/blob-1/PT1H.json']!.endOffset = 500;
    await store.save(state, changed('c/blob-1/PT1H.json'));
    await store.close();
    appendFileSync(join(where, JOURNAL_FILE_NAME), '{"b":"c/blob-2/PT1H.json","c":{"hourMs":17');

    const recovered = await new FileStateStore(where).load();
    expect(recovered?.blobs['c/blob-1/PT1H.json']?.endOffset).toBe(500);
    expect(recovered?.blobs['c/blob-2/PT1H.json']?.endOffset).toBe(102);
  });

  it('ignores a journal left by a compaction cut short, and compacts once the journal outgrows the snapshot', async () => {
    const where = freshDir();
    const store = new FileStateStore(where);
    const state = stateWith(2);
    await store.save(state);
    const firstJournal = readFileSync(join(where, JOURNAL_FILE_NAME), 'utf8');
    state.blobs['c/blob-0/PT1H.json']!.endOffset = 1;
    await store.save(state, changed('c/blob-0/PT1H.json'));
    const oldJournal = readFileSync(join(where, JOURNAL_FILE_NAME), 'utf8');

    // Enough changes to pass the compaction threshold (1 MiB): the next save writes a snapshot.
    const big = 'x'.repeat(2000);
    for (let i = 0; i < 600; i++) {
      state.blobs['c/blob-1/PT1H.json'] = { hourMs: HOUR, lastBlockId: big, endOffset: i };
      await store.save(state, changed('c/blob-1/PT1H.json'));
    }
    expect(readFileSync(join(where, JOURNAL_FILE_NAME), 'utf8')).toMatch(/^\{"journal":1,"generation":2\}\n/);
    expect(statSync(join(where, JOURNAL_FILE_NAME)).size).toBeLessThan(1024 * 1024);
    expect((await new FileStateStore(where).load())?.blobs['c/blob-1/PT1H.json']?.endOffset).toBeGreaterThan(500);

    // A crash between the new snapshot and the new journal: the old journal (older generation)
    // must not be applied over the newer snapshot.
    writeFileSync(join(where, JOURNAL_FILE_NAME), oldJournal);
    const recovered = await new FileStateStore(where).load();
    expect(recovered?.blobs['c/blob-0/PT1H.json']?.endOffset).toBe(1);
    expect(recovered?.blobs['c/blob-1/PT1H.json']?.endOffset).toBeGreaterThan(500);
    expect(firstJournal).toMatch(/^\{"journal":1,"generation":1\}\n$/);
    await store.close();
  });

  it('writes a snapshot first after a restart (a journal may end in a torn line), and keeps files private', async () => {
    const where = freshDir();
    const first = new FileStateStore(where);
    const state = stateWith(1);
    await first.save(state);
    await first.close();
    appendFileSync(join(where, JOURNAL_FILE_NAME), '{"b":"torn');
    const second = new FileStateStore(where);
    const loaded = (await second.load())!;
    loaded.blobs['c/blob-0/PT1H.json']!.endOffset = 77;
    await second.save(loaded, changed('c/blob-0/PT1H.json'));
    expect(readFileSync(join(where, JOURNAL_FILE_NAME), 'utf8')).toMatch(/^\{"journal":1,"generation":2\}\n$/);
    expect(readStateDirectory(where)?.blobs['c/blob-0/PT1H.json']?.endOffset).toBe(77);
    expect(statSync(join(where, STATE_FILE_NAME)).mode & 0o777).toBe(0o600);
    expect(statSync(join(where, JOURNAL_FILE_NAME)).mode & 0o777).toBe(0o600);
    await second.close();
  });
});

/** A store that records what it was asked to write. */
class RecordingStore implements StateStore {
  readonly description = 'memory';
  readonly saves: { blobs: string[]; header: boolean }[] = [];
  fail = false;
  load(): Promise<SourceState | undefined> {
    return Promise.resolve(undefined);
  }
  save(_state: SourceState, changes?: StateChanges): Promise<void> {
    if (this.fail) return Promise.reject(new StateError('disk full'));
    this.saves.push({ blobs: [...(changes?.blobs ?? [])].sort(), header: changes?.header ?? true });
    return Promise.resolve();
  }
}

describe('StateWriter', () => {
  afterEach(() => vi.useRealTimers());

  it('writes the changes of many acknowledgements together, at most once per interval', async () => {
    vi.useFakeTimers();
    let nowMs = 0;
    const store = new RecordingStore();
    const writer = new StateWriter(store, emptyState(0), { minIntervalMs: 1000, now: () => nowMs });
    for (let i = 0; i < 100; i++) writer.blobChanged(`blob-${i % 10}`);
    writer.headerChanged();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.saves).toEqual([{ blobs: Array.from({ length: 10 }, (_, i) => `blob-${i}`), header: true }]);

    nowMs = 100;
    writer.blobChanged('blob-1');
    await vi.advanceTimersByTimeAsync(500);
    expect(store.saves.length).toBe(1);
    nowMs = 1000;
    await vi.advanceTimersByTimeAsync(400);
    expect(store.saves.at(-1)).toEqual({ blobs: ['blob-1'], header: false });

    // flush (at stop) writes at once, whatever the interval.
    writer.blobChanged('blob-2');
    await writer.flush();
    expect(store.saves.at(-1)).toEqual({ blobs: ['blob-2'], header: false });
    expect(store.saves.length).toBe(3);
  });

  it('keeps the changes of a failed write for the next one, and reports the failure', async () => {
    const store = new RecordingStore();
    const errors: string[] = [];
    const writer = new StateWriter(store, emptyState(0), { minIntervalMs: 0, onError: (error) => errors.push(error.message) });
    store.fail = true;
    writer.blobChanged('a');
    await expect(writer.flush()).rejects.toBeInstanceOf(StateError);
    expect(writer.failure?.message).toBe('disk full');
    store.fail = false;
    writer.blobChanged('b');
    await writer.flush();
    expect(store.saves).toEqual([{ blobs: ['a', 'b'], header: false }]);
    expect(writer.failure).toBeUndefined();
    expect(errors[0]).toBe('disk full');
  });
});
