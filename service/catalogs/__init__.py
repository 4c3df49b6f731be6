"""What can be booked: this company's stations and seed, the copies of its peers' catalogs,
every company's free windows at the places asked, trips planned over them, and alternatives
for a refused leg."""
