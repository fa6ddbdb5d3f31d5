import { MissingDependencyError, requireOptional } from './missing-dependency.error';

function notFound(name: string): Error {
  return Object.assign(new Error(`Cannot find module '${name}'\nRequire stack:\n- x.js`), { code: 'MODULE_NOT_FOUND' });
}

describe('requireOptional', () => {
  it('turns the missing peer into a MissingDependencyError saying what to install', () => {
    expect(() =>
      requireOptional(
        () => {
          throw notFound('typeorm');
        },
        'typeorm',
        'The outbox',
      ),
    ).toThrow(new MissingDependencyError('typeorm', 'The outbox'));
    expect(new MissingDependencyError('typeorm', 'The outbox').message).toBe(
      'The outbox needs the package "typeorm": run npm install typeorm',
    );
  });

  it('rethrows other failures as they are', () => {
    const other = notFound('some-dependency-of-typeorm');
    expect(() =>
      requireOptional(
        () => {
          throw other;
        },
        'typeorm',
        'The outbox',
      ),
    ).toThrow(other);
    expect(requireOptional(() => 42, 'typeorm', 'x')).toBe(42);
  });

  it('is what createMessagingEntities throws when typeorm is not installed', () => {
    jest.isolateModules(() => {
      jest.doMock('typeorm', () => {
        throw notFound('typeorm');
      });
      const { createMessagingEntities } =
        require('../outbox/messaging-entities') as typeof import('../outbox/messaging-entities');
      expect(() => createMessagingEntities()).toThrow(/createMessagingEntities needs the package "typeorm"/);
      jest.dontMock('typeorm');
    });
  });
});
