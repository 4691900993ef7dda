/**
 * The Space-Saving heap of a WordKeyTable: slot ids ordered by weight, the lightest at the root,
 * with a copy of each one's weight in heap order (`weights`) and each slot's place in the heap
 * (`places`, so that a slot the table moves can be followed). A 4-ary heap: half the levels of a
 * binary one, and the four children of a node share a cache line of the weights.
 */

/** Restores the heap below `place`, whose entry may be heavier than its children. */
export function siftDown(heap: Int32Array, weights: Float64Array, places: Int32Array, place: number): void {
  const size = heap.length;
  const id = heap[place]!;
  const weight = weights[place]!;
  for (;;) {
    const first = place * 4 + 1;
    if (first >= size) break;
    let child = first;
    let lightest = weights[first]!;
    const last = Math.min(first + 4, size);
    for (let c = first + 1; c < last; c++) {
      if (weights[c]! < lightest) {
        lightest = weights[c]!;
        child = c;
      }
    }
    if (lightest >= weight) break;
    const childId = heap[child]!;
    heap[place] = childId;
    weights[place] = lightest;
    places[childId] = place;
    place = child;
  }
  heap[place] = id;
  weights[place] = weight;
  places[id] = place;
}

/** Puts `id` with `weight` at the root in place of the entry there, and restores the heap. */
export function replaceRoot(heap: Int32Array, weights: Float64Array, places: Int32Array, id: number, weight: number): void {
  heap[0] = id;
  weights[0] = weight;
  places[id] = 0;
  siftDown(heap, weights, places, 0);
}

/** Makes a heap of slot ids in any order with their weights: sets their places, then orders them. */
export function heapify(heap: Int32Array, weights: Float64Array, places: Int32Array): void {
  for (let place = 0; place < heap.length; place++) places[heap[place]!] = place;
  for (let place = Math.floor((heap.length - 2) / 4); place >= 0; place--) siftDown(heap, weights, places, place);
}
