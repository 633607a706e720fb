-- expect: error os.date format too long
os.date(string.rep("%c", 200))
