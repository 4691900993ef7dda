/** Commander's argument parser for a repeatable option: every value given, in order. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];
