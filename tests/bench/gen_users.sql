-- gen_users.sql - benchmark accounts for tests/bench/bench_users.sh: users
-- :from .. :to (psql variables) with made-up names, emails @bench.example,
-- creation times spread over four years, 1 % suspended, 0.05 % admins, 3 %
-- never confirmed. The password hash is not a valid PHC string, so nobody can
-- sign in as them.
WITH first(n, f) AS (
    SELECT row_number() OVER () - 1, f FROM unnest(ARRAY[
        'Ada','Alan','Amelia','Anna','Arjun','Astrid','Ben','Bianca','Carlos','Chen','Chloe',
        'Dana','David','Diego','Elena','Emil','Fatima','Felix','Grace','Hana','Hugo','Ines',
        'Ivan','Jade','Jonas','Julia','Kai','Kenji','Lara','Leo','Lina','Luca','Maya','Mateo',
        'Mia','Nadia','Noah','Olga','Omar','Paula','Pedro','Priya','Quinn','Rosa','Sami',
        'Sara','Tariq','Tom','Uma','Vera','Wei','Yara','Yusuf','Zoe']) AS f),
last(n, l) AS (
    SELECT row_number() OVER () - 1, l FROM unnest(ARRAY[
        'Abbott','Becker','Castro','Dubois','Eriksen','Fischer','Garcia','Hansen','Ibrahim',
        'Jensen','Kowalski','Larsen','Moreau','Nakamura','Okafor','Petrov','Quintana','Rossi',
        'Schmidt','Tanaka','Usman','Varga','Weber','Xu','Yilmaz','Zhang','Almeida','Brennan',
        'Costa','Dimitrov','Evans','Ferrari','Gruber','Haddad','Ivanova','Jovanovic','Kim',
        'Lindqvist','Mendes','Novak','Olsen','Park','Reyes','Silva','Torres','Ueda','Vogel',
        'Walsh','Young','Zimmermann']) AS l)
INSERT INTO users (email, password_hash, name, role, status, created_at, updated_at,
                   email_confirmed_at)
SELECT lower(f.f || '.' || l.l || '.' || g) || '@bench.example',
       '$argon2id$v=19$bench$not-a-hash', f.f || ' ' || l.l,
       CASE WHEN g % 2000 = 0 THEN 'admin' ELSE 'user' END,
       CASE WHEN g % 100 = 7 THEN 'suspended' ELSE 'active' END,
       now() - make_interval(secs => (2000000 - g) * 63.0),
       now() - make_interval(secs => (2000000 - g) * 63.0),
       -- 3 % never confirmed their address; the others within the hour
       CASE WHEN g % 100 IN (3, 41, 89) THEN NULL
            ELSE now() - make_interval(secs => (2000000 - g) * 63.0 - 600) END
  FROM generate_series(:from::int, :to::int) AS g
  JOIN first f ON f.n = (hashint4(g) & 2147483647) % 54
  JOIN last l ON l.n = (hashint4(g + 7919) & 2147483647) % 50;
