# deploy/ums.conf.example -> the package's /etc/ums/ums.conf (debian/rules):
# postinst generates the refresh-token secret, the service key and the JWT
# key; PostgreSQL is reached through its local socket as the role ums.
s|^url = postgresql://ums@127.0.0.1:5432/ums$|url = postgresql:///ums?host=/var/run/postgresql|
/^# Make the file, then uncomment:$/{
N
s|^[^\n]*\n# \(refresh_token_secret_file = /etc/ums/secrets/refresh_token_secret\)$|# Generated at install (postinst):\n\1|
s|^[^\n]*\n# \(service_key_file = /etc/ums/secrets/service_key\)$|# Generated at install (postinst):\n\1|
}
s|^\(jwt_private_key_file = /etc/ums/keys/jwt-private.pem\)$|# Generated at install (postinst, umsctl keygen):\n\1|
