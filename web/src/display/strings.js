// display/strings.js: the words of the public displays, French (default) and English.
// Kept apart from the dashboard's i18n so a display page stays a small bundle.

const S = {
  fr: {
    noiseLabel: 'Niveau sonore',
    airLabel: "Qualité de l'air",
    poolLabel: 'Fréquentation de la piscine',
    cityLabel: 'La ville en direct',
    weatherLabel: 'Météo',
    airIndex: "Indice européen de qualité de l'air",
    noise: ['Calme', 'Modéré', 'Bruyant', 'Très bruyant'],
    air: ['Bon', 'Moyen', 'Dégradé', 'Mauvais', 'Très mauvais', 'Extrêmement mauvais'],
    pool: ['Peu de monde', 'Fréquentée', 'Presque complète', 'Complète'],
    people: 'personnes',
    peopleNow: 'personnes en ce moment',
    freePlaces: 'places libres',
    freePlace: 'place libre',
    ofCapacity: (n) => `sur ${n} places`,
    measuredAt: 'Mesure de',
    ago: 'il y a',
    justNow: "à l'instant",
    live: 'en direct',
    connecting: 'reconnexion…',
    stale: 'données anciennes',
    waiting: 'En attente de données…',
    notPublic: 'Donnée non publique',
    notPublicHint: "Cette donnée n'est pas publiée par la ville.",
    noId: 'Aucun capteur choisi',
    noIdHint: 'Ajoutez ?id=… à l’adresse de la page.',
    badView: 'Vue inconnue',
    badViewHint: 'Vues disponibles : noise, air, pool, city.',
    trend: 'Dernière heure',
    say: {
      noise: (name, v, word, t) => `${name} : niveau sonore ${v} décibels A, ${word}, mesuré à ${t}.`,
      air: (name, word, p25, p10, no2, t) =>
        `${name} : qualité de l'air ${word}. PM2,5 ${p25}, PM10 ${p10}, dioxyde d'azote ${no2} microgrammes par mètre cube, mesuré à ${t}.`,
      pool: (name, v, free, t) =>
        `${name} : ${v} personnes en ce moment${free != null ? `, ${free} places libres` : ''}, mesuré à ${t}.`,
      value: (name, v, unit, t) => `${name} : ${v} ${unit}, mesuré à ${t}.`,
      stale: 'Attention, données anciennes.',
    },
    locale: 'fr-FR',
  },
  en: {
    noiseLabel: 'Noise level',
    airLabel: 'Air quality',
    poolLabel: 'Swimming pool occupancy',
    cityLabel: 'The city, live',
    weatherLabel: 'Weather',
    airIndex: 'European Air Quality Index',
    noise: ['Quiet', 'Moderate', 'Loud', 'Very loud'],
    air: ['Good', 'Fair', 'Moderate', 'Poor', 'Very poor', 'Extremely poor'],
    pool: ['Quiet', 'Busy', 'Almost full', 'Full'],
    people: 'people',
    peopleNow: 'people right now',
    freePlaces: 'places free',
    freePlace: 'place free',
    ofCapacity: (n) => `out of ${n}`,
    measuredAt: 'Reading of',
    ago: '',
    justNow: 'just now',
    live: 'live',
    connecting: 'reconnecting…',
    stale: 'stale data',
    waiting: 'Waiting for data…',
    notPublic: 'Not public data',
    notPublicHint: 'The city does not publish this data.',
    noId: 'No sensor chosen',
    noIdHint: 'Add ?id=… to the page address.',
    badView: 'Unknown view',
    badViewHint: 'Available views: noise, air, pool, city.',
    trend: 'Last hour',
    say: {
      noise: (name, v, word, t) => `${name}: noise level ${v} decibels A, ${word}, reading of ${t}.`,
      air: (name, word, p25, p10, no2, t) =>
        `${name}: air quality ${word}. PM2.5 ${p25}, PM10 ${p10}, nitrogen dioxide ${no2} micrograms per cubic metre, reading of ${t}.`,
      pool: (name, v, free, t) =>
        `${name}: ${v} people right now${free != null ? `, ${free} places free` : ''}, reading of ${t}.`,
      value: (name, v, unit, t) => `${name}: ${v} ${unit}, reading of ${t}.`,
      stale: 'Warning: stale data.',
    },
    locale: 'en-GB',
  },
};

export function strings(lang) {
  return S[lang] || S.fr;
}

// "il y a 3 min" / "3 min ago"
export function ageText(t, ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  let v;
  if (s < 10) return t.justNow;
  if (s < 60) v = `${s} s`;
  else if (s < 3600) v = `${Math.floor(s / 60)} min`;
  else if (s < 86400) v = `${Math.floor(s / 3600)} h`;
  else v = `${Math.floor(s / 86400)} ${t.locale === 'fr-FR' ? 'j' : 'd'}`;
  return t.ago ? `${t.ago} ${v}` : `${v} ago`;
}

// Time of a reading: "19:12", or "3 déc. 19:12" when not today.
export function timeText(t, ts, now) {
  const d = new Date(ts);
  const hm = d.toLocaleTimeString(t.locale, { hour: '2-digit', minute: '2-digit' });
  const n = new Date(now);
  if (n.toDateString() === d.toDateString()) return hm;
  const opt = { day: 'numeric', month: 'short' };
  if (n.getFullYear() !== d.getFullYear()) opt.year = 'numeric';
  return `${d.toLocaleDateString(t.locale, opt)} ${hm}`;
}
