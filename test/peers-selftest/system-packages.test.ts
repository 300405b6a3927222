import { expect } from 'chai';
import { missingPackages, TEST_SYSTEM_PACKAGES } from '@connectors/test-support';

describe('peer: system packages', () => {
  it('reports installed packages as present and unknown ones as missing', () => {
    expect(missingPackages(['dpkg', 'connectors-no-such-package-xyz'])).to.deep.equal([
      'connectors-no-such-package-xyz',
    ]);
  });

  it('lists the packages the test peers run', () => {
    for (const p of ['git', 'apache2', 'docker-registry', 'skopeo', 'nginx-light', 'curl']) {
      expect(TEST_SYSTEM_PACKAGES).to.include(p);
    }
  });
});
