import { actorFrom, printable } from './operations.commands';

describe('operations commands: output and actor', () => {
  it('shows control characters of text from the wire as ?', () => {
    expect(printable('a\u001b[31mred\u0007\nb')).toBe('a?[31mred??b');
  });

  it('takes the actor from MESSAGING_OPERATOR, else the OS user', () => {
    expect(actorFrom({ MESSAGING_OPERATOR: 'dana' })).toBe('dana');
    expect(actorFrom({})).toMatch(/^cli(:.+)?$/);
  });
});
