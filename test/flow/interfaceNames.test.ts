import { describe, expect, it } from 'vitest';
import { nameText } from '../../src/flow/interfaceNames.js';

describe('nameText: the strings a data record carries for an endpoint', () => {
  const names = { ips: ['10.1.0.4'], vm: 'vm-web-01', tags: { env: 'prod', app: 'shop;x=y', 'cost%': 'a=b' } };

  it('writes tags as key=value;key=value sorted by key, escaping % ; = so the list splits back', () => {
    const text = nameText(names, 'tags', '*');
    expect(text).toBe('app=shop%3Bx%3Dy;cost%25=a%3Db;env=prod');
    const back = Object.fromEntries(text.split(';').map((pair) => pair.split('=').map((part) => decodeURIComponent(part)) as [string, string]));
    expect(back).toEqual(names.tags);
  });

  it('writes only the chosen tags, and an empty text for what is unknown', () => {
    expect(nameText(names, 'tags', ['env', 'missing'])).toBe('env=prod');
    expect(nameText(names, 'vm', '*')).toBe('vm-web-01');
    expect(nameText(names, 'subnet', '*')).toBe('');
  });
});
