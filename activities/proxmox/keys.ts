import { generateKeyPairSync } from 'node:crypto';

/**
 * A key pair for the provisioning login only (cloud-init user or root): ECDSA P-256, whose PKCS#8
 * PEM OpenSSH reads as is. It travels in the run's input, which the payload codec encrypts, and is
 * not kept anywhere else; the customer's own keys go to the admin user.
 */
export function provisioningKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const blob = Buffer.concat([field(Buffer.from('ecdsa-sha2-nistp256')), field(Buffer.from('nistp256')), field(point)]);
  return { publicKey: `ecdsa-sha2-nistp256 ${blob.toString('base64')} keelson-provisioning`, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
